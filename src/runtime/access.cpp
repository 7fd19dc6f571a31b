// Authorization of calls that carry roles (EventOptions::roles, docs/security.md). The engine
// decides from what the host tells it; who the caller really is, is the host's to establish.

#include <algorithm>

#include "runtime/core.hpp"

namespace escalon::detail {

[[noreturn]] void throw_refusal(Refusal code, const std::string& why, std::string reason) {
  if (code == Refusal::not_permitted) throw PermissionError(why);
  throw EventError(code, why, std::move(reason));
}

namespace {

bool holds(const EventOptions& o, std::string_view grant) {
  if (grant.starts_with("user:")) return !o.actor.empty() && grant.substr(5) == o.actor;
  return std::find(o.roles->begin(), o.roles->end(), grant) != o.roles->end();
}

bool holds_any(const EventOptions& o, const std::vector<std::string>& grants) {
  return std::any_of(grants.begin(), grants.end(), [&](const std::string& g) { return holds(o, g); });
}

std::string caller(const EventOptions& o) {
  return fmt::format("{} (roles: {})", o.actor.empty() ? std::string("a caller with no name") : fmt::format("'{}'", o.actor),
                     o.roles->empty() ? std::string("none") : fmt::format("{}", fmt::join(*o.roles, ", ")));
}

}  // namespace

Access::Access(const Core& m, const EventOptions& o) : o_(o) {
  if (m.options.authorization == Authorization::off) return;
  if (o.roles) mode_ = Mode::check;
  else if (m.options.authorization == Authorization::required) mode_ = Mode::anonymous;
}

bool Access::grant(const std::vector<std::string>& grants, std::string_view policy) {
  if (mode_ == Mode::check && holds_any(o_, grants)) return true;
  need(grants, policy);
  return false;
}

bool Access::grant_role(const std::string& role) {
  if (mode_ == Mode::check && (role.empty() || holds(o_, role))) return true;
  if (!role.empty()) need({role}, "");
  return false;
}

void Access::need(const std::vector<std::string>& grants, std::string_view policy) {
  for (const auto& g : grants)
    if (std::find(needed_.begin(), needed_.end(), g) == needed_.end()) needed_.push_back(g);
  if (!policy.empty() && grants.empty()) policies_.emplace_back(policy);
}

std::string Access::denial(std::string_view action) const {
  if (mode_ == Mode::anonymous)
    return fmt::format("{} refused: the call carries no roles and this engine requires them "
                       "(EngineOptions::authorization is required)",
                       action);
  if (!needed_.empty())
    return fmt::format("{} may not {}; that needs one of: {}", caller(o_), action, fmt::join(needed_, ", "));
  return fmt::format("{} may not {}; no role is granted it (EngineOptions::access{}{})", caller(o_), action,
                     policies_.empty() ? "" : ".", fmt::join(policies_, " or ."));
}

// Calls on a case the flow does not govern: granted by the policy alone (and `admin`).
void Op::authorize(Case& c, std::string_view call, const EventOptions& o, TimePoint at,
                   const std::vector<std::string>& grants, std::string_view policy, std::string_view action) {
  Access a(m, o);
  if (!a.checked() || a.grant(grants, policy) || a.grant(m.options.access.admin, "admin")) return;
  reject(&c, c.id, call, o, at, Refusal::not_permitted, a.denial(fmt::format("{} case '{}'", action, c.id)));
}

// update(): whoever may act in the current step (its `role:`), or the policy.
void Op::authorize_update(Case& c, const EventOptions& o, TimePoint at) {
  Access a(m, o);
  const std::string& role = c.step >= 0 ? c.current().role : std::string();
  if (!a.checked() || a.grant_role(role) || a.grant(m.options.access.update, "update") ||
      a.grant(m.options.access.admin, "admin"))
    return;
  reject(&c, c.id, "update", o, at, Refusal::not_permitted,
         a.denial(fmt::format("update case '{}' in step '{}'", c.id, c.step >= 0 ? c.current().name : "")));
}

// The transitions for an event that the caller may take: each its `allow:`, else the step's
// `role:`; `send` and `admin` in the policy take any. None: refused, naming who may.
void Op::authorize_event(Case& c, std::string_view event, Candidates& candidates,
                         const EventOptions& o, TimePoint at) {
  Access a(m, o);
  if (!a.checked()) return;
  // Asked first, named last: the message lists the flow's grants before the policy's.
  Access policy(m, o);
  if (policy.grant(m.options.access.send, "send") || policy.grant(m.options.access.admin, "admin")) return;
  const std::string& role = c.current().role;
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [&](const Transition* t) { return t->allow.empty() ? !a.grant_role(role) : !a.grant(t->allow, ""); }),
                   candidates.end());
  if (!candidates.empty()) return;
  a.grant(m.options.access.send, "send");
  a.grant(m.options.access.admin, "admin");
  reject(&c, c.id, event, o, at, Refusal::not_permitted,
         a.denial(fmt::format("send '{}' in step '{}' of case '{}'", event, c.current().name, c.id)));
}

void authorize_start(const Core& m, const Flow& f, const StartOptions& s) {
  const EventOptions o{s.actor, s.channel, s.key, s.roles};
  Access a(m, o);
  const std::string& role = f.start_index >= 0 ? f.steps[static_cast<std::size_t>(f.start_index)].role : std::string();
  if (!a.checked() || a.grant_role(role) || a.grant(m.options.access.start, "start") ||
      a.grant(m.options.access.admin, "admin"))
    return;
  throw PermissionError(a.denial(fmt::format("start a case of flow '{}'", f.id)));
}

void authorize_migrate(const Core& m, const EventOptions& o, std::string_view flow) {
  Access a(m, o);
  if (!a.checked() || a.grant(m.options.access.migrate, "migrate") || a.grant(m.options.access.admin, "admin")) return;
  throw PermissionError(a.denial(fmt::format("migrate cases of flow '{}'", flow)));
}

void authorize_personal(const Core& m, const ReadOptions& r) {
  const EventOptions o{.actor = r.actor, .roles = r.roles};
  Access a(m, o);
  if (!a.checked() || a.grant(m.options.access.read_personal, "read_personal") ||
      a.grant(m.options.access.admin, "admin"))
    return;
  throw PermissionError(a.denial("read personal data"));
}

}  // namespace escalon::detail
