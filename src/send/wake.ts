// In-process wake-up for send workers: a new delivery in this process is picked up at once
// instead of at the next poll. Workers in other processes find it by polling.
import { EventEmitter } from 'node:events';

const signal = new EventEmitter();
signal.setMaxListeners(0);

/** Tell this process's send workers that there is new work. */
export function wakeSendWorkers(): void {
  signal.emit('work');
}

/** Call `fn` on every wake-up; returns the function that stops listening. */
export function onSendWork(fn: () => void): () => void {
  signal.on('work', fn);
  return () => signal.off('work', fn);
}
