#pragma once
// A case's priority as a rank, shared by work queues (Engine::query) and the simulator's team
// queues: the place of the `priority` enum's value (later values rank higher), or the number
// itself for an int field; anything else ranks 0.

#include <algorithm>

#include "escalon/flow.hpp"

namespace escalon::detail {

inline int priority_rank(const DataField& field, const Value& v) {
  if (v.kind() == Value::Kind::string) {
    const auto& values = field.type.values;
    return static_cast<int>(std::find(values.begin(), values.end(), v.as_string()) - values.begin());
  }
  if (v.kind() == Value::Kind::integer) return static_cast<int>(v.as_int());
  return 0;
}

}  // namespace escalon::detail
