"""The LMRF writer shared by the reference generators (make_ref.py, make_image_ref.py,
make_unet_ref.py); tests/ref_io.h describes the format and tests/ref_io.c reads it."""
import struct

import numpy as np
import torch


def write_lmrf(path, records):
    """records: (name, array) pairs; float32 and int32 arrays only."""
    out = bytearray()
    out += b"LMRF" + struct.pack("<II", 1, len(records))
    for name, arr in records:
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.float32:
            dt = 0
        elif arr.dtype == np.int32:
            dt = 1
        else:
            raise TypeError(arr.dtype)
        nb = name.encode()
        out += struct.pack("<I", len(nb)) + nb
        out += struct.pack("<II", dt, arr.ndim)
        out += struct.pack("<%dq" % arr.ndim, *arr.shape)
        out += arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    with open(path, "wb") as f:
        f.write(bytes(out))


def f32(t):
    """A torch tensor as a float32 numpy array."""
    return t.detach().to(torch.float32).numpy()
