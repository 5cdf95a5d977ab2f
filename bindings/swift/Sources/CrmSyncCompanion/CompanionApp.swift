// The sample plug-in shell: a menu-bar item beside Outlook with "Sync now", the last report,
// sign-in and the Settings dialog (the seed's screens).

import CrmSync
import SwiftUI

@main
struct CompanionApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        MenuBarExtra("CRM Sync", systemImage: "arrow.triangle.2.circlepath") {
            SyncView()
                .environmentObject(model)
                .frame(width: 360)
                .padding()
        }
        .menuBarExtraStyle(.window)

        Window("Sign in", id: "sign-in") {
            SignInView()
                .environmentObject(model)
                .frame(width: 420)
                .padding()
        }

        Settings {
            SettingsView()
                .environmentObject(model)
                .frame(width: 480)
                .padding()
        }
    }
}
