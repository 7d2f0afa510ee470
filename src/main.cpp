// meshcast: one binary, one subcommand per role. Everything lives in src/app.
#include "app/cli.hpp"

int main(int argc, char** argv) { return meshcast::app::run(argc, argv); }
