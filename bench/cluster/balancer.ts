// The test balancer (test/helpers/balancer.ts) as a process of its own, as nginx would be, so that
// it neither shares the load clients' event loop nor hides its CPU among theirs:
// `node bench/cluster/balancer.ts n1:<port> n2:<port> …` prints `balancer at <url>`; it ends on
// SIGTERM or when its standard input closes (the bench that started it ended, however it ended).
import { startBalancer } from '../../test/helpers/balancer.ts';

const nodes = process.argv.slice(2).map((arg) => {
  const [id, port] = arg.split(':');
  return { id: id!, port: Number(port) };
});
const balancer = await startBalancer([], nodes);
console.log(`balancer at ${balancer.url}`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
