#pragma once
// The values a workload model generates (`choose`, `p`, `after`, `sequence`, `expr`, `uniform`,
// `list`; docs/simulation.md): start data, event payloads and action results.

#include <map>

#include "escalon/clock.hpp"
#include "escalon/expr.hpp"
#include "escalon/value.hpp"
#include "sim/model.hpp"
#include "sim/rng.hpp"

namespace escalon::detail {

class Generator {
 public:
  // `exprs`: every `expr:` generator of the model, compiled by the model checks.
  Generator(std::map<const Gen*, Expression> exprs, const Clock& clock, Rng& rng)
      : exprs_(std::move(exprs)), clock_(clock), draws_(&rng) {}

  // `data`: what expressions read (the case's data, or the start data made so far).
  Value value(const Gen& g, const Map& data);
  // Each field in model order, so that generation is deterministic; expressions also see the
  // fields made before them.
  Map values(const GenMap& m, const Map& context);

  // Draws from another generator for one scope: arrivals have their own, so that two models
  // with one seed get the same arrivals.
  class DrawFrom {
   public:
    DrawFrom(Generator& g, Rng& rng) : g_(g), before_(g.draws_) { g.draws_ = &rng; }
    ~DrawFrom() { g_.draws_ = before_; }
    DrawFrom(const DrawFrom&) = delete;
    DrawFrom& operator=(const DrawFrom&) = delete;

   private:
    Generator& g_;
    Rng* before_;
  };

 private:
  std::map<const Gen*, Expression> exprs_;
  std::map<const Gen*, std::int64_t> sequences_;
  const Clock& clock_;
  Rng* draws_;
};

}  // namespace escalon::detail
