#!/usr/bin/python3
"""Generates the NumPy fixtures of the runtime's unit tests (run once; the
outputs are committed so the tests never need Python):
    cd tests/unit/data && /usr/bin/python3 make_fixtures.py
"""
import numpy as np

f4 = (np.arange(6, dtype='<f4').reshape(2, 3) - 2) * 0.5       # [-1, -0.5, 0, 0.5, 1, 1.5]
np.save('f4_2x3.npy', f4)
np.save('f8_vec.npy', np.array([1.5, -2.25, 1e300, 0.0], dtype='<f8'))
np.save('i8_vec.npy', np.array([0, 1, -2, 2**40, 9], dtype='<i8'))
np.save('i4_vec.npy', np.array([3, 1, 4, 1, 5], dtype='<i4'))
np.save('u1_mat.npy', np.array([[0, 255], [7, 128]], dtype='|u1'))
np.save('scalar_f4.npy', np.float32(3.5))
np.save('empty_f4.npy', np.zeros((0, 3), dtype='<f4'))
np.save('be_f4.npy', np.array([1.0, -2.0, 0.25], dtype='>f4'))
np.save('fortran_f4.npy', np.asfortranarray(f4))
np.save('bool_vec.npy', np.array([True, False, True]))
with open('v2_f4.npy', 'wb') as f:
    np.lib.format.write_array(f, f4, version=(2, 0))
with open('v3_f4.npy', 'wb') as f:
    np.lib.format.write_array(f, f4, version=(3, 0))

# savez: stored entries whose local headers carry Zip64 extras (force_zip64)
np.savez('savez.npz', **{'c1.weight': np.arange(24, dtype='<f4').reshape(2, 3, 2, 2) / 8,
                         'c1.bias': np.array([0.5, -0.5], dtype='<f4'),
                         'loss': np.float32(2.5),
                         'labels': np.array([1, 0, 3], dtype='<i8')})
# savez_compressed: deflated entries
np.savez_compressed('savez_compressed.npz',
                    a=np.linspace(0, 1, 100, dtype='<f4').reshape(10, 10),
                    b=np.array([7, 8, 9], dtype='<i4'))
