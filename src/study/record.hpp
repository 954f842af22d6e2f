#pragma once
// A task's results are an io::Record (io/record.hpp); the names the study code uses.
#include "io/layout.hpp"
#include "io/record.hpp"

namespace ioca::study {

using io::AttributeEntry;
using io::Bytes;
using io::checksum;
using io::DatasetEntry;
using io::deserialize_all;
using io::DType;
using io::dtype_size;
using io::Record;
using io::serialize;

}  // namespace ioca::study
