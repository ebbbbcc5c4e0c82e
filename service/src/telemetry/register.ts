// Preloaded with `node --require` so instrumentation patches modules before anything loads them.
import { startTracing } from './tracing';

startTracing();
