"""Order books from ITCH 5.0: the C engine (`wirespeed._native.BookEngine`,
native/book/book.h) and the pure-Python reference it is checked against."""
