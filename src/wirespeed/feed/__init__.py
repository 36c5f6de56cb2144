"""Exchange feed protocols: MoldUDP64 (session layer) and NASDAQ TotalView-ITCH 5.0."""
