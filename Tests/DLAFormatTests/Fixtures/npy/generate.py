# Regenerates the .npy fixtures with numpy (run from this directory: python3 generate.py).
# They pin NPY.read/NPY.write to real numpy output, byte for byte.
import numpy as np
from numpy.lib import format as fmt


def save(name, a, version=None, **kw):
    with open(name, 'wb') as f:
        if version is None:
            np.save(f, a, **kw)
        else:
            fmt.write_array(f, a, version=version, **kw)


save('float32_2x3_v1.npy', (np.arange(6, dtype=np.float32) * 0.5 - 1.25).reshape(2, 3))
save('float16_4_v1.npy', np.array([1.0, -0.5, 65504, 2**-24], dtype=np.float16))
save('int8_2x2_v1.npy', np.array([[-128, -1], [0, 127]], dtype=np.int8))
save('uint8_scalar_v1.npy', np.array(200, dtype=np.uint8))
save('int64_3_v2.npy', np.array([-(2**62), 0, 2**40 + 7], dtype=np.int64), version=(2, 0))
save('int32_2x1x2_v2.npy', np.array([[[1, -2]], [[2**31 - 1, -2**31]]], dtype=np.int32), version=(2, 0))
save('float64_empty_v3.npy', np.zeros((0, 5), dtype=np.float64), version=(3, 0))
# Files dlad must reject, each with its own error.
save('float32_fortran_v1.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
save('float32_bigendian_v1.npy', np.arange(3, dtype='>f4'))
save('object_v1.npy', np.array([1, 'a'], dtype=object), allow_pickle=True)
save('bool_v1.npy', np.array([True, False]))
