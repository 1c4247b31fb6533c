// The test balancer (test/helpers/balancer.ts) as a process of its own, as nginx would be, so that
// it neither shares the load clients' event loop nor hides its CPU among theirs:
// `node bench/cluster/balancer.ts n1:<port> n2:<port> …` prints `balancer at <url>`; SIGTERM ends it.
import { startBalancer } from '../../test/helpers/balancer.ts';

const nodes = process.argv.slice(2).map((arg) => {
  const [id, port] = arg.split(':');
  return { id: id!, port: Number(port) };
});
const balancer = await startBalancer([], nodes);
console.log(`balancer at ${balancer.url}`);
