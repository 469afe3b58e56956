/**
 * A private redis-server for tests that stop or pause Redis: on a free port of the test's own, so
 * that the machine's Redis and the other tests are never touched. Killed by PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';

/** A private redis-server on `port`; with `dir`, persisted in an append-only file there (a restart keeps the jobs). */
export async function startRedis(t: TestContext, port: number, dir?: string): Promise<ChildProcess> {
  const persistence = dir === undefined ? ['--appendonly', 'no'] : ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec'];
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--daemonize', 'no'], { stdio: 'ignore' });
  t.after(() => {
    if (redis.exitCode === null) redis.kill('SIGKILL');
  });
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return redis;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILL, by PID: what a crash looks like to the clients. */
export async function stopRedis(redis: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => redis.once('exit', resolve));
  redis.kill('SIGKILL');
  await exited;
}
