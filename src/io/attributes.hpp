#pragma once
// Attributes maps (io::Attributes) to and from an HDF5 object's attributes.
#include "io/hdf5.hpp"
#include "ioca/io.hpp"

namespace ioca::io {

// Writes each entry as an attribute of its own type (string, float64, int64).
void write_attributes(const h5::File& f, hid_t loc, const Attributes& attributes);
// Reads every string, floating-point and integer attribute; others (arrays of other
// types) are metadata ioca does not interpret and are skipped.
Attributes read_attributes(const h5::File& f, hid_t loc);

}  // namespace ioca::io
