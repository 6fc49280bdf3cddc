// One file per command; each exports a register function that defines its flags and help.
import type { Command } from 'commander';
import { register as registerListUsers } from './list-users.js';

export function registerCommands(program: Command): void {
  void program;
  registerListUsers(program);
}
