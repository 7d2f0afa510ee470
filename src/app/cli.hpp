// Command-line entry: parses `meshcast <subcommand> [flags]` (CLI11, with an optional TOML config
// file taking the same settings as the flags) and runs the chosen role. Called once from main.
#pragma once

namespace meshcast::app {

/// Runs meshcast with the process arguments; returns the process exit code.
int run(int argc, char** argv);

}  // namespace meshcast::app
