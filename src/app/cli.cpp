#include "app/cli.hpp"

#include <CLI/CLI.hpp>

namespace meshcast::app {

int run(int argc, char** argv) {
  CLI::App app{"meshcast: live video to a very large audience, with low delay and little server bandwidth"};
  app.require_subcommand(1);
  app.add_subcommand("origin", "Ingest live streams and serve them");
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace meshcast::app
