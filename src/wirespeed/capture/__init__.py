"""The capture side: feeds from an interface (or a recording) into the ring,
and the ring to disk.

  runner.py     `wirespeed capture`: a transport into the ring until stopped
                (CaptureConfig, run, Background)
  record.py     `wirespeed record`: every ring record to rotating pcapng files
  directio.py   O_DIRECT files from two alternating buffers (the recorder's output)

The transports themselves are in wirespeed.transports, the ring in
wirespeed.ring, the pcapng format in wirespeed.formats.
"""
