// sim::run(): checks the plan and runs the engine (sim.hpp; the engine is in engine.hpp).
#include "sim/sim.hpp"

#include <memory>

#include "sim/engine.hpp"

namespace meshcast::sim {

core::result<report::run_result> run(const scenario::scenario& s, const scenario::plan& p, report::collector& c,
                                     const sim_settings& settings, sim_stats* stats) {
  auto e = std::make_unique<detail::engine>(s, p, c, settings);
  if (auto ok = e->check(); !ok) return ok.error();
  return e->run(stats);
}

}  // namespace meshcast::sim
