# Writes the .npy fixtures of ArrayDataTests with NumPy itself (numpy.save / numpy.lib.format), so the reader is tested on
# files as NumPy writes them. Run from the repository root: python3 Tests/LatentKitTests/Data/make_npy_files.py
import numpy as np
from numpy.lib import format as npformat

out = "Tests/LatentKitTests/Data/npy/"
values = (np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5) / 4  # exact in float32
np.save(out + "v1_f4.npy", values.astype("<f4"))
np.save(out + "v1_f8.npy", values.astype("<f8"))
np.save(out + "v1_u1_3d.npy", np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))
np.save(out + "v1_i4.npy", np.arange(12, dtype="<i4").reshape(3, 4))
np.save(out + "labels_i8.npy", np.array([3, 0, 7], dtype="<i8"))
with open(out + "v2_f8.npy", "wb") as f:
    npformat.write_array(f, values.astype("<f8"), version=(2, 0))
with open(out + "v3_f4.npy", "wb") as f:
    npformat.write_array(f, values.astype("<f4"), version=(3, 0))
np.save(out + "fortran_f4.npy", np.asfortranarray(values.astype("<f4")))
np.save(out + "big_endian_f4.npy", values.astype(">f4"))
np.save(out + "complex.npy", values.astype(np.complex64))
