#include "flotilla/datasets/json_writer.h"

#include <cmath>
#include <cstdio>

namespace flotilla {

std::string json_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

void JsonWriter::comma() {
  if (after_key_) { after_key_ = false; return; }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() { comma(); out_ += '{'; first_.push_back(true); return *this; }
JsonWriter& JsonWriter::end_object() { out_ += '}'; first_.pop_back(); return *this; }
JsonWriter& JsonWriter::begin_array() { comma(); out_ += '['; first_.push_back(true); return *this; }
JsonWriter& JsonWriter::end_array() { out_ += ']'; first_.pop_back(); return *this; }
JsonWriter& JsonWriter::key(const std::string& k) {
  comma();
  out_ += '"' + json_escape(k) + "\":";
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::value(const std::string& s) { comma(); out_ += '"' + json_escape(s) + '"'; return *this; }
JsonWriter& JsonWriter::value(double d) {
  comma();
  if (!std::isfinite(d)) { out_ += "null"; return *this; }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", d);
  out_ += buf;
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t i) { comma(); out_ += std::to_string(i); return *this; }
JsonWriter& JsonWriter::value(std::uint64_t u) { comma(); out_ += std::to_string(u); return *this; }
JsonWriter& JsonWriter::value(bool b) { comma(); out_ += b ? "true" : "false"; return *this; }
JsonWriter& JsonWriter::null() { comma(); out_ += "null"; return *this; }

}  // namespace flotilla
