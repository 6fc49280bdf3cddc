// One file per command; each exports a register function that defines its flags and help.
import type { Command } from 'commander';
import { register as registerListUsers } from './list-users.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerBroadcast } from './broadcast.js';
import { register as registerStatus } from './status.js';
import { register as registerSchedule } from './schedule.js';

export function registerCommands(program: Command): void {
  void program;
  registerListUsers(program);
  registerDoctor(program);
  registerBroadcast(program);
  registerStatus(program);
  registerSchedule(program);
}
