// The AsyncStream of progress keeps crmsync's order and ends; the summary drives the UI.

import CrmSync
import XCTest

final class SyncProgressTests: XCTestCase {
    func testStreamKeepsOrderAndFinishes() async {
        let observer = StreamingSyncObserver()
        let events: [ProgressEvent] = [
            .kindStarted(kind: .contact),
            .reading(kind: .contact, side: .zoho, items: 2, full: true),
            .planned(kind: .contact, steps: 2, writes: 2),
            .writing(kind: .contact, done: 2, total: 2),
            .kindFinished(kind: .contact),
        ]
        // crmsync calls observers from its own threads.
        DispatchQueue.global().async {
            for e in events { observer.onProgress(event: e) }
            observer.onLog(event: LogEvent(level: .info, message: "sync finished"))
            observer.finish()
        }
        var seen: [SyncUpdate] = []
        for await u in observer.updates { seen.append(u) }
        XCTAssertEqual(seen, events.map { .progress($0) } + [.log(LogEvent(level: .info, message: "sync finished"))])
    }

    func testSummaryFollowsTheEvents() {
        var s = SyncProgressSummary()
        s.apply(.kindStarted(kind: .task))
        XCTAssertNil(s.fraction)
        s.apply(.reading(kind: .task, side: .outlook, items: 12, full: false))
        XCTAssertEqual(s.status, "Reading tasks from Outlook… 12")
        s.apply(.planned(kind: .task, steps: 4, writes: 4))
        XCTAssertEqual(s.fraction, 0)
        s.apply(.writing(kind: .task, done: 1, total: 4))
        XCTAssertEqual(s.fraction, 0.25)
        s.apply(.kindFinished(kind: .task))
        XCTAssertEqual(s.fraction, 1)
        XCTAssertEqual(s.kind, .task)
    }
}
