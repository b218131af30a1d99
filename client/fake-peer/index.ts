/** Fake conference peers for load tests, QA and the benchmark (see run.ts for a whole run). */
export { runFakePeers, roomIds, type RunOptions, type RunProgress } from './run';
export { FakePeer, type FakePeerOptions } from './fake-peer';
export { Pacer } from './pacer';
export { summarize, type RunSummary, type Thresholds } from './summary';
export { formatProgress, formatSummary } from './report';
export { parseCliArgs, USAGE, UsageError, type CliCommand } from './cli-options';
export type { EngineName, MediaEngine, ReceivedStream, RemoteProducer, SentStream } from './engine';
export type { FakePeerErrorCode } from './errors';
