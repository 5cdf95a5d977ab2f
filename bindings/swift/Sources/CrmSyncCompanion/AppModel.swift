// The companion app's state: one SyncClient, the settings being edited, the last report.

import AppKit
import CrmSync
import Foundation

/// What the app's windows show and do. All UI state lives on the main actor; crmsync's calls
/// run on its own runtime and are awaited here.
@MainActor
final class AppModel: ObservableObject {
    /// The app's registered OAuth clients (from the app's Info.plist in a real build).
    static let zohoClientId = Bundle.main.object(forInfoDictionaryKey: "ZohoClientId") as? String ?? "1000.CLIENT"
    static let outlookClientId = Bundle.main.object(forInfoDictionaryKey: "OutlookClientId") as? String ?? "00000000-0000-0000-0000-000000000000"
    static let zohoRedirectPort: UInt16 = 53682

    @Published var identity: Identity?
    @Published var settings: SyncSettings = defaultSettings()
    @Published var contactFolders: [Container] = []
    @Published var taskLists: [Container] = []
    @Published var categories: [String] = []
    @Published var progress = SyncProgressSummary()
    @Published var isSyncing = false
    @Published var lastReport: SyncReport?
    @Published var message: String?

    let client: SyncClient
    private var running: RunningSync?

    init() {
        let home = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("CRM Sync", isDirectory: true)
        let config = ClientConfig(
            home: home.path,
            zohoClientId: Self.zohoClientId,
            zohoClientSecret: nil,
            zohoRedirectPort: Self.zohoRedirectPort,
            zohoAccountsUrl: nil,
            outlookClientId: Self.outlookClientId,
            outlookTenant: nil,
            outlookLoginUrl: nil,
            graphUrl: nil
        )
        do {
            client = try SyncClient(config: config, secrets: KeychainSecretStore(service: Bundle.main.bundleIdentifier ?? "com.example.crmsync"))
        } catch {
            fatalError("CRM Sync cannot open its folder: \(error.localizedDescription)")
        }
        settings = client.settings()
        lastReport = (try? client.history(limit: 1))?.first
    }

    /// Shows a failure's reason (crmsync's reasons carry no secrets or personal data).
    func show(_ error: Error) {
        if let e = error as? CrmSyncError {
            message = e.localizedDescription
        } else {
            message = "\(error)"
        }
    }

    func refresh() async {
        do {
            identity = try await client.whoAmI()
            if identity?.outlookSignedIn == true {
                contactFolders = try await client.listContainers(kind: .contact)
                taskLists = try await client.listContainers(kind: .task)
                categories = try await client.listCategories()
            }
        } catch {
            show(error)
        }
    }

    // MARK: Sign in

    func signInToZoho() async {
        do {
            let catcher = try LoopbackRedirect(port: Self.zohoRedirectPort)
            let url = try client.zohoAuthorizationUrl()
            if let u = URL(string: url) { NSWorkspace.shared.open(u) }
            let redirect = try await catcher.next()
            try await client.completeZohoSignIn(redirectUrl: redirect)
            await refresh()
        } catch {
            show(error)
        }
    }

    func signInToOutlook() async {
        do {
            let port: UInt16 = 53683
            let catcher = try LoopbackRedirect(port: port, host: "localhost")
            let url = try client.outlookAuthorizationUrl(redirectUri: "http://localhost:\(port)")
            if let u = URL(string: url) { NSWorkspace.shared.open(u) }
            let redirect = try await catcher.next()
            try await client.completeOutlookSignIn(redirectUrl: redirect)
            await refresh()
        } catch {
            show(error)
        }
    }

    func signOut(_ side: Side) async {
        do {
            try await client.signOut(side: side)
            await refresh()
        } catch {
            show(error)
        }
    }

    // MARK: Settings

    func save(_ edited: SyncSettings) -> Bool {
        do {
            try client.setSettings(settings: edited)
            settings = edited
            message = nil
            return true
        } catch {
            show(error)
            return false
        }
    }

    func name(of id: String?, in containers: [Container]) -> String {
        guard let id else {
            return containers.first(where: { $0.isDefault })?.name ?? "Default"
        }
        return containers.first(where: { $0.id == id })?.name ?? "(not found)"
    }

    // MARK: Sync

    func syncNow() async {
        guard !isSyncing else { return }
        isSyncing = true
        progress = SyncProgressSummary()
        let run = client.startSync(SyncRequest(kind: nil, dryRun: false, force: false))
        running = run
        for await update in run.updates {
            if case let .progress(event) = update {
                progress.apply(event)
            }
        }
        do {
            lastReport = try await run.report.value
            message = nil
        } catch {
            show(error)
        }
        running = nil
        isSyncing = false
    }

    func cancelSync() {
        running?.cancel()
    }
}
