// Sign in to Zoho CRM and to Outlook (browser sign-in; "keep me signed in" is the Keychain).

import CrmSync
import SwiftUI

struct SignInView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        VStack(alignment: .leading, spacing: 16) {
            Text("Sign in").font(.title2)
            GroupBox("Zoho CRM") {
                HStack {
                    if let user = model.identity?.zohoUserId {
                        Label("Signed in (user \(user))", systemImage: "checkmark.circle")
                        Spacer()
                        Button("Sign out") { Task { await model.signOut(.zoho) } }
                    } else {
                        Text("Opens Zoho's sign-in page in your browser.")
                        Spacer()
                        Button("Sign in to Zoho CRM") { Task { await model.signInToZoho() } }
                    }
                }
            }
            GroupBox("Outlook") {
                HStack {
                    if model.identity?.outlookSignedIn == true {
                        Label("Signed in", systemImage: "checkmark.circle")
                        Spacer()
                        Button("Sign out") { Task { await model.signOut(.outlook) } }
                    } else {
                        Text("Opens Microsoft's sign-in page in your browser.")
                        Spacer()
                        Button("Sign in to Outlook") { Task { await model.signInToOutlook() } }
                    }
                }
            }
            if let message = model.message {
                Text(message).foregroundStyle(.red)
            }
        }
        .task { await model.refresh() }
    }
}
