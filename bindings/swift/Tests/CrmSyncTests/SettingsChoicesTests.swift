// The Settings dialog's choices map onto crmsync's settings (defaults are the seed's).

import CrmSync
import XCTest

final class SettingsChoicesTests: XCTestCase {
    func testDefaultsAreTheSeeds() throws {
        let s = defaultSettings()
        XCTAssertEqual(s.calendarChoice, .zohoOnly)
        XCTAssertEqual(s.conflictChoice, .zohoWins)
        XCTAssertNil(s.contacts.outlookContainer)
        XCTAssertNoThrow(try validateSettings(settings: s))
    }

    func testCalendarChoiceRoundTrips() throws {
        var s = defaultSettings()
        s.calendarChoice = .chosen(["Clients", "Board"])
        XCTAssertEqual(s.events.categoryFilter, .chosen(names: ["Board", "Clients"]))
        XCTAssertEqual(s.calendarChoice, .chosen(["Clients", "Board"]))
        s.calendarChoice = .all
        XCTAssertEqual(s.events.categoryFilter, .all)
    }

    func testConflictRuleAppliesToEveryKind() {
        var s = defaultSettings()
        s.conflictChoice = .outlookWins
        XCTAssertEqual(s.contacts.conflict.winner, .outlook)
        XCTAssertEqual(s.tasks.conflict.winner, .outlook)
        XCTAssertEqual(s.events.conflict.winner, .outlook)
    }

    func testChosenWithoutCategoriesIsRefusedWithAReason() {
        var s = defaultSettings()
        s.calendarChoice = .chosen([])
        XCTAssertThrowsError(try validateSettings(settings: s)) { error in
            guard case let CrmSyncError.InvalidInput(reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(reason.contains("events.category_filter"))
        }
    }
}
