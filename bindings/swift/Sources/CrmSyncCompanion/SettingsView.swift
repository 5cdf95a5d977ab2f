// The Settings dialog: contacts folder and task list with "Change", the calendar category
// choice (Zoho only / all / chosen), and the conflict rule (Zoho wins / Outlook wins).

import CrmSync
import SwiftUI

struct SettingsView: View {
    @EnvironmentObject var model: AppModel
    @State private var edited: SyncSettings = defaultSettings()
    @State private var choosing: Kind?

    var body: some View {
        Form {
            Section("Contacts") {
                LabeledContent("Outlook folder") {
                    Text(model.name(of: edited.contacts.outlookContainer, in: model.contactFolders))
                    Button("Change…") { choosing = .contact }
                }
            }
            Section("Tasks") {
                LabeledContent("Task list") {
                    Text(model.name(of: edited.tasks.outlookContainer, in: model.taskLists))
                    Button("Change…") { choosing = .task }
                }
            }
            Section("Calendar") {
                Picker("Sync calendar items", selection: calendarMode) {
                    Text("In the \"\(edited.events.zohoCategory)\" category only").tag(0)
                    Text("All calendar items").tag(1)
                    Text("In the chosen categories").tag(2)
                }
                .pickerStyle(.radioGroup)
                if case let .chosen(names) = edited.calendarChoice {
                    ForEach(model.categories, id: \.self) { name in
                        Toggle(name, isOn: Binding(
                            get: { names.contains(name) },
                            set: { on in
                                var next = names
                                if on { next.insert(name) } else { next.remove(name) }
                                edited.calendarChoice = .chosen(next)
                            }
                        ))
                    }
                }
            }
            Section("When a record changed in both places") {
                Picker("Keep", selection: $edited.conflictChoice) {
                    ForEach(ConflictChoice.allCases) { Text($0.rawValue).tag($0) }
                }
                .pickerStyle(.radioGroup)
            }
            if let message = model.message {
                Text(message).foregroundStyle(.red)
            }
            HStack {
                Spacer()
                Button("Revert") { edited = model.settings }
                Button("Save") { _ = model.save(edited) }.keyboardShortcut(.defaultAction)
            }
        }
        .task {
            await model.refresh()
            edited = model.settings
        }
        .sheet(item: $choosing) { kind in
            ContainerPicker(
                title: kind == .contact ? "Choose a contact folder" : "Choose a task list",
                containers: kind == .contact ? model.contactFolders : model.taskLists,
                selected: kind == .contact ? edited.contacts.outlookContainer : edited.tasks.outlookContainer
            ) { id in
                if kind == .contact { edited.contacts.outlookContainer = id } else { edited.tasks.outlookContainer = id }
                choosing = nil
            }
        }
    }

    private var calendarMode: Binding<Int> {
        Binding(
            get: {
                switch edited.calendarChoice {
                case .zohoOnly: return 0
                case .all: return 1
                case .chosen: return 2
                }
            },
            set: { mode in
                switch mode {
                case 0: edited.calendarChoice = .zohoOnly
                case 1: edited.calendarChoice = .all
                default:
                    if case .chosen = edited.calendarChoice { return }
                    edited.calendarChoice = .chosen([])
                }
            }
        )
    }
}

extension Kind: Identifiable {
    public var id: String { displayName }
}

/// The "Change…" sheet: the folders or lists to choose from (`nil` = the default one).
struct ContainerPicker: View {
    let title: String
    let containers: [Container]
    let selected: String?
    let choose: (String?) -> Void

    var body: some View {
        VStack(alignment: .leading) {
            Text(title).font(.headline)
            List(containers, id: \.id) { c in
                Button {
                    choose(c.isDefault ? nil : c.id)
                } label: {
                    HStack {
                        Text(c.name)
                        if c.isDefault { Text("(default)").foregroundStyle(.secondary) }
                        Spacer()
                        if c.id == selected || (selected == nil && c.isDefault) {
                            Image(systemName: "checkmark")
                        }
                    }
                }
                .buttonStyle(.plain)
            }
            .frame(minHeight: 200)
            HStack {
                Spacer()
                Button("Cancel") { choose(selected) }
            }
        }
        .padding()
        .frame(width: 360)
    }
}
