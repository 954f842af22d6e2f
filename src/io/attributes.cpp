#include "io/attributes.hpp"

namespace ioca::io {

void write_attributes(const h5::File& f, hid_t loc, const Attributes& attributes) {
  for (const auto& [key, value] : attributes)
    std::visit([&](const auto& v) { h5::write_attribute(f, loc, key, v); }, value);
}

Attributes read_attributes(const h5::File& f, hid_t loc) {
  Attributes a;
  for (const auto& name : h5::list_attributes(f, loc)) {
    switch (h5::attribute_kind(f, loc, name)) {
      case h5::AttributeKind::string:
        a[name] = h5::read_string_attribute(f, loc, name, "@" + name);
        break;
      case h5::AttributeKind::floating:
        a[name] = h5::read_double_attribute(f, loc, name, "@" + name);
        break;
      case h5::AttributeKind::integer:
        a[name] = h5::read_int_attribute(f, loc, name, "@" + name);
        break;
      case h5::AttributeKind::other:
        break;
    }
  }
  return a;
}

}  // namespace ioca::io
