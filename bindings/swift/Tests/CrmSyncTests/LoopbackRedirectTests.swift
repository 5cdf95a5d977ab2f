// The loopback catcher returns the browser's redirect URL and answers the browser.

import CrmSync
import XCTest

final class LoopbackRedirectTests: XCTestCase {
    func testReturnsTheRedirectWithItsQuery() async throws {
        let port: UInt16 = 53_999
        let catcher = try LoopbackRedirect(port: port)
        async let redirect = catcher.next()
        // Give the listener a moment to bind, then play the browser.
        try await Task.sleep(nanoseconds: 200_000_000)
        let url = URL(string: "http://127.0.0.1:\(port)/callback?state=s1&code=c1&location=us")!
        let (data, response) = try await URLSession.shared.data(from: url)
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("close this window"))
        let got = try await redirect
        XCTAssertEqual(got, "http://127.0.0.1:\(port)/callback?state=s1&code=c1&location=us")
    }
}
