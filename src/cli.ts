#!/usr/bin/env node
// commander wiring only: each command lives in src/commands and returns an exit code.
import { Command } from "commander";
import { readPackageVersion } from "./config/package-info.js";

const program = new Command();
program
  .name("moe-prof")
  .description("Profile Mixture-of-Experts routing: capture it inside vLLM, validate, analyse and plot it.")
  .version(readPackageVersion());

await program.parseAsync(process.argv);
