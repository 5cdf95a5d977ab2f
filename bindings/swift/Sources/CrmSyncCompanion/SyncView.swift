// "Sync now" with progress and cancel, and the last report.

import CrmSync
import SwiftUI

struct SyncView: View {
    @EnvironmentObject var model: AppModel
    @Environment(\.openWindow) private var openWindow

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            HStack {
                Button(model.isSyncing ? "Syncing…" : "Sync now") {
                    Task { await model.syncNow() }
                }
                .disabled(model.isSyncing)
                if model.isSyncing {
                    Button("Cancel") { model.cancelSync() }
                }
                Spacer()
                Button("Sign in…") { openWindow(id: "sign-in") }
                SettingsLink { Text("Settings…") }
            }
            if model.isSyncing {
                if let fraction = model.progress.fraction {
                    ProgressView(value: fraction) { Text(model.progress.status) }
                } else {
                    ProgressView { Text(model.progress.status) }
                }
            }
            if let message = model.message {
                Text(message).foregroundStyle(.red).fixedSize(horizontal: false, vertical: true)
            }
            Divider()
            if let report = model.lastReport {
                ReportView(report: report)
            } else {
                Text("No sync yet.").foregroundStyle(.secondary)
            }
        }
    }
}

/// The last report: per kind, what was created, updated and deleted where, and what needs a look.
struct ReportView: View {
    let report: SyncReport

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(headline).font(.headline)
            ForEach(report.kinds, id: \.kind) { k in
                VStack(alignment: .leading, spacing: 2) {
                    Text(k.kind.displayName.capitalized).bold()
                    Text("Zoho: +\(k.counts.createdInZoho) ~\(k.counts.updatedInZoho) −\(k.counts.deletedInZoho)   Outlook: +\(k.counts.createdInOutlook) ~\(k.counts.updatedInOutlook) −\(k.counts.deletedInOutlook)")
                        .font(.caption.monospacedDigit())
                    if k.counts.conflictsQueued > 0 {
                        Text("\(k.counts.conflictsQueued) conflicts wait for you").font(.caption)
                    }
                    ForEach(k.errors, id: \.self) { e in
                        Text("\(e.title): \(e.reason)").font(.caption).foregroundStyle(.red)
                    }
                    if let guardStop = k.`guard` {
                        Text(guardStop.message).font(.caption).foregroundStyle(.orange)
                    }
                    if let failure = k.failure {
                        Text(failure).font(.caption).foregroundStyle(.red)
                    }
                }
            }
        }
    }

    private var headline: String {
        let when = Date(timeIntervalSince1970: TimeInterval(report.startedAt))
            .formatted(date: .abbreviated, time: .shortened)
        if report.cancelled { return "Cancelled — \(when)" }
        return report.completed ? "Last sync \(when): \(report.writes) changes" : "Last sync \(when) did not finish"
    }
}
