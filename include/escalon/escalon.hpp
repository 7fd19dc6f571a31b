#pragma once
/// @file escalon.hpp
/// Umbrella header: everything a host application needs.
#include "escalon/calendar.hpp"
#include "escalon/clock.hpp"
#include "escalon/engine.hpp"
#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/flow.hpp"
#include "escalon/graph.hpp"
#include "escalon/journal.hpp"
#include "escalon/loader.hpp"
#include "escalon/report.hpp"
#include "escalon/scenario.hpp"
#include "escalon/simulate.hpp"
#include "escalon/store.hpp"
#include "escalon/time.hpp"
#include "escalon/value.hpp"
#include "escalon/version.hpp"
