// Progress of a running sync as an AsyncStream, built on the `SyncObserver` foreign trait.

import Foundation

/// One thing a running sync reports.
public enum SyncUpdate: Sendable, Equatable {
    /// A progress event (in order).
    case progress(ProgressEvent)
    /// A log line for the UI.
    case log(LogEvent)
}

/// A `SyncObserver` that forwards every event into an `AsyncStream`.
///
/// crmsync calls observers on its own background threads; the stream hands the events to
/// whichever task iterates it (the UI iterates on the main actor).
public final class StreamingSyncObserver: SyncObserver, @unchecked Sendable {
    /// The events, in the order crmsync reported them. Finishes with `finish()`.
    public let updates: AsyncStream<SyncUpdate>
    private let continuation: AsyncStream<SyncUpdate>.Continuation

    /// A new observer with an unbounded buffer (a sync reports a few events per batch).
    public init() {
        let (stream, continuation) = AsyncStream<SyncUpdate>.makeStream(bufferingPolicy: .unbounded)
        self.updates = stream
        self.continuation = continuation
    }

    public func onProgress(event: ProgressEvent) {
        continuation.yield(.progress(event))
    }

    public func onLog(event: LogEvent) {
        continuation.yield(.log(event))
    }

    /// Ends the stream (called when the sync returns or throws).
    public func finish() {
        continuation.finish()
    }
}

/// A running sync: its progress stream, its report, and how to cancel it.
public struct RunningSync: Sendable {
    /// Progress and log events; the stream ends when the sync does.
    public let updates: AsyncStream<SyncUpdate>
    /// The report (or the error) once the sync ends.
    public let report: Task<SyncReport, Error>
    /// Cancels the run: batches in flight finish and are committed, nothing new starts.
    public let cancelHandle: CancelHandle

    /// Requests cancellation.
    public func cancel() {
        cancelHandle.cancel()
    }
}

extension SyncClient {
    /// Starts a sync and returns its progress stream and report.
    ///
    /// ```swift
    /// let run = client.startSync(SyncRequest(kind: nil, dryRun: false, force: false))
    /// for await update in run.updates { print(update) }
    /// let report = try await run.report.value
    /// ```
    public func startSync(_ request: SyncRequest) -> RunningSync {
        let observer = StreamingSyncObserver()
        let handle = CancelHandle()
        let task = Task { () throws -> SyncReport in
            defer { observer.finish() }
            return try await self.sync(request: request, observer: observer, cancel: handle)
        }
        return RunningSync(updates: observer.updates, report: task, cancelHandle: handle)
    }
}

/// Folds progress events into what a progress bar shows.
public struct SyncProgressSummary: Equatable, Sendable {
    /// The kind being synced, if any.
    public private(set) var kind: Kind?
    /// A short sentence ("Reading contacts from Zoho… 120").
    public private(set) var status: String = "Idle"
    /// 0…1 while writing; `nil` while reading and planning (indeterminate).
    public private(set) var fraction: Double?

    public init() {}

    /// Takes one event into account.
    public mutating func apply(_ event: ProgressEvent) {
        switch event {
        case let .kindStarted(kind):
            self.kind = kind
            status = "Starting \(kind.displayName)…"
            fraction = nil
        case let .reading(kind, side, items, _):
            self.kind = kind
            status = "Reading \(kind.displayName) from \(side.displayName)… \(items)"
            fraction = nil
        case let .planned(kind, _, writes):
            self.kind = kind
            status = writes == 0 ? "\(kind.displayName.capitalized) are in sync" : "\(writes) changes to make"
            fraction = writes == 0 ? 1 : 0
        case let .writing(kind, done, total):
            self.kind = kind
            status = "Writing \(kind.displayName) \(done)/\(total)"
            fraction = total == 0 ? 1 : Double(done) / Double(total)
        case let .kindFinished(kind):
            self.kind = kind
            status = "\(kind.displayName.capitalized) done"
            fraction = 1
        }
    }
}

extension Kind {
    /// The plural the UI shows ("contacts").
    public var displayName: String {
        switch self {
        case .contact: return "contacts"
        case .task: return "tasks"
        case .event: return "events"
        }
    }
}

extension Side {
    /// The service's name as the UI shows it.
    public var displayName: String {
        switch self {
        case .zoho: return "Zoho CRM"
        case .outlook: return "Outlook"
        }
    }
}
