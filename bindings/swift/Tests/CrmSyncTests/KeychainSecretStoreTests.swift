// The Keychain secret store round-trips, overwrites and deletes (macOS only: not run on Linux).

import CrmSync
import XCTest

final class KeychainSecretStoreTests: XCTestCase {
    private var store: KeychainSecretStore!

    override func setUp() {
        super.setUp()
        // A service of its own per test run, so tests never touch the app's items.
        store = KeychainSecretStore(service: "com.example.crmsync.tests.\(UUID().uuidString)")
    }

    override func tearDown() {
        try? store.delete(key: "crmsync.zoho.refresh_token")
        super.tearDown()
    }

    func testMissingKeyIsNil() throws {
        XCTAssertNil(try store.get(key: "crmsync.zoho.refresh_token"))
    }

    func testSetGetOverwriteDelete() throws {
        try store.set(key: "crmsync.zoho.refresh_token", value: "1000.first")
        XCTAssertEqual(try store.get(key: "crmsync.zoho.refresh_token"), "1000.first")
        try store.set(key: "crmsync.zoho.refresh_token", value: "1000.second")
        XCTAssertEqual(try store.get(key: "crmsync.zoho.refresh_token"), "1000.second")
        try store.delete(key: "crmsync.zoho.refresh_token")
        XCTAssertNil(try store.get(key: "crmsync.zoho.refresh_token"))
    }

    func testDeletingAMissingKeyIsNotAnError() throws {
        XCTAssertNoThrow(try store.delete(key: "crmsync.outlook.access_token"))
    }

    func testUnicodeSecretsSurvive() throws {
        try store.set(key: "k", value: "toké✓")
        XCTAssertEqual(try store.get(key: "k"), "toké✓")
        try store.delete(key: "k")
    }
}
