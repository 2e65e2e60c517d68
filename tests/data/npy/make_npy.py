# Writes the reference .npy files in this folder (run here with Debian NumPy 1.24:
#   cd tests/data/npy && /usr/bin/python3 make_npy.py). Keep the outputs tiny.
import numpy as np
f = np.lib.format
np.save('f4_2x3.npy', (np.arange(6, dtype='<f4').reshape(2, 3) * 0.5 - 1))
np.save('f8_scalar.npy', np.array(3.25, dtype='<f8'))
np.save('i4_edges_5x2.npy', np.array([[0, 1], [1, 2], [2, 0], [3, 3], [4, 1]], dtype='<i4'))
np.save('i8_edge_index_2x5.npy', np.array([[0, 1, 2, 3, 4], [1, 2, 0, 3, 1]], dtype='<i8'))
np.save('u1_5.npy', np.array([0, 1, 127, 128, 255], dtype='|u1'))
np.save('u4_3.npy', np.array([0, 7, 4294967295], dtype='<u4'))
np.save('u8_2.npy', np.array([0, 18446744073709551615], dtype='<u8'))
np.save('f4_signal_2x3x2.npy', np.arange(12, dtype='<f4').reshape(2, 3, 2) / 4)
np.save('i8_empty_0x2.npy', np.zeros((0, 2), dtype='<i8'))
np.save('f4_fortran_2x3.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
np.save('f4_bigendian_3.npy', np.array([1, 2, 3], dtype='>f4'))
np.save('c8_2.npy', np.array([1 + 2j, 3], dtype='<c8'))
for ver in [(2, 0), (3, 0)]:
    with open('f8_v%d_3x1.npy' % ver[0], 'wb') as fh:
        f.write_array(fh, np.array([[1.5], [-2.0], [1e300]], dtype='<f8'), version=ver)
