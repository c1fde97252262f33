// The client package's entry point (`import { SwimdClient } from 'swimd/client'`):
// the typed client for the local API and the JSON shapes it returns.
export { SwimdError } from '../base/errors.js';
export { SwimdClient, ClientError, CLIENT_MAX_READ_BYTES, type ClientSession, type MonitorLevel, type WatchOptions } from './client.js';
export { CompactPartitionsEvent, CompactLineError, decodeCompactPartitions, isCompactPartitions, type CompactPartitionsJson } from './compact.js';
export type {
  MemberView,
  PartitionView,
  PartitionsView,
  MemberEventKind,
  PartitionChange,
  WatchLine,
  WatchSnapshot,
  WatchMemberEvent,
  WatchPartitionsEvent,
  WatchResync,
  WatchFormat,
  PartitionColumns,
} from '../api/views.js';
