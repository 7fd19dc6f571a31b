#pragma once
// The checks of a workload model against the loaded flows (src/sim/checks.cpp), run before a
// simulation starts. What they resolve on the way (time zone, staff calendars, modelled steps,
// compiled expressions) is handed to the simulator in src/sim/simulate.cpp.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "escalon/calendar.hpp"
#include "escalon/expr.hpp"
#include "escalon/flow.hpp"
#include "sim/model.hpp"

#include <date/tz.h>

namespace escalon::detail {

struct CheckedModel {
  const date::time_zone* zone = nullptr;                               // the model's time zone
  std::vector<std::unique_ptr<Calendar>> calendars;                    // one per model.staff; null: always on duty
  std::vector<std::string> queues;                                     // every role some team serves
  std::map<std::string, std::size_t> role_index;                       // role -> index in queues
  std::map<std::pair<std::string, std::string>, const SimStep*> steps;  // (flow, step)
  std::map<const Gen*, Expression> exprs;                              // every `=` generator, compiled
};

// `latest` holds the newest version of each loaded flow. Throws FlowError with every problem
// found, sorted by place in the model file.
CheckedModel check_model(const SimModelData& model, std::span<const FlowPtr> flows,
                         const std::map<std::string, const Flow*>& latest);

}  // namespace escalon::detail
