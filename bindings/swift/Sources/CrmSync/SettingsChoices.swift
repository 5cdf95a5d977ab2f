// The Settings dialog's choices (the seed's screens) mapped to and from `SyncSettings`.

import Foundation

/// "Calendar items to sync": the seed's three choices.
public enum CalendarChoice: Equatable, Hashable, Sendable {
    /// Only items in the "Zoho" category (the default).
    case zohoOnly
    /// All calendar items.
    case all
    /// Items in the chosen categories.
    case chosen(Set<String>)

    /// The choice a settings value holds.
    public init(_ filter: CategoryFilter) {
        switch filter {
        case .zohoOnly: self = .zohoOnly
        case .all: self = .all
        case let .chosen(names): self = .chosen(Set(names))
        }
    }

    /// The settings value of this choice (chosen names sorted, so saving is deterministic).
    public var filter: CategoryFilter {
        switch self {
        case .zohoOnly: return .zohoOnly
        case .all: return .all
        case let .chosen(names): return .chosen(names: names.sorted())
        }
    }
}

/// "When a record changed on both sides": the seed's two rules.
public enum ConflictChoice: String, CaseIterable, Identifiable, Sendable {
    /// Zoho's values win (the default).
    case zohoWins = "Zoho CRM wins"
    /// Outlook's values win.
    case outlookWins = "Outlook wins"

    public var id: String { rawValue }

    /// The rule a settings value holds; "newest" and "ask me" (set elsewhere) show as Zoho wins.
    public init(_ winner: Winner) {
        self = winner == .outlook ? .outlookWins : .zohoWins
    }

    /// The settings value.
    public var winner: Winner {
        self == .outlookWins ? .outlook : .zoho
    }
}

extension SyncSettings {
    /// The calendar choice of the events settings.
    public var calendarChoice: CalendarChoice {
        get { CalendarChoice(events.categoryFilter) }
        set { events.categoryFilter = newValue.filter }
    }

    /// The conflict rule, applied to every kind (the seed has one rule for all).
    public var conflictChoice: ConflictChoice {
        get { ConflictChoice(contacts.conflict.winner) }
        set {
            contacts.conflict.winner = newValue.winner
            tasks.conflict.winner = newValue.winner
            events.conflict.winner = newValue.winner
        }
    }
}
