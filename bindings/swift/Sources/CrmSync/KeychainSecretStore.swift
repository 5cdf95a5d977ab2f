// A `SecretStore` backed by the macOS Keychain (generic passwords, this device only).

import Foundation
import Security

/// Keeps crmsync's secrets (refresh tokens, cached access tokens) in the login Keychain.
///
/// Items are generic passwords under one service name, readable after the first unlock and
/// never synced to other devices (`…ThisDeviceOnly`): a token copied to another Mac would be
/// refused by Zoho anyway and would only widen exposure.
public final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    /// The Keychain service name the items are filed under.
    public let service: String

    /// A store filing items under `service` (use the app's bundle identifier).
    public init(service: String = "com.example.crmsync") {
        self.service = service
    }

    private func query(_ key: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
        ]
    }

    private func failure(_ status: OSStatus, _ action: String) -> CrmSyncError {
        let text = (SecCopyErrorMessageString(status, nil) as String?) ?? "status \(status)"
        // The key names a token kind, never the secret; the message is the system's.
        return CrmSyncError.Host(reason: "the Keychain could not \(action) a secret: \(text)")
    }

    public func get(key: String) throws -> String? {
        var q = query(key)
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, let value = String(data: data, encoding: .utf8) else {
                throw CrmSyncError.Host(reason: "the Keychain holds an unreadable crmsync secret")
            }
            return value
        case errSecItemNotFound:
            return nil
        default:
            throw failure(status, "read")
        }
    }

    public func set(key: String, value: String) throws {
        let data = Data(value.utf8)
        let update: [String: Any] = [kSecValueData as String: data]
        let status = SecItemUpdate(query(key) as CFDictionary, update as CFDictionary)
        switch status {
        case errSecSuccess:
            return
        case errSecItemNotFound:
            var add = query(key)
            add[kSecValueData as String] = data
            add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
            let added = SecItemAdd(add as CFDictionary, nil)
            if added != errSecSuccess {
                throw failure(added, "store")
            }
        default:
            throw failure(status, "update")
        }
    }

    public func delete(key: String) throws {
        let status = SecItemDelete(query(key) as CFDictionary)
        if status != errSecSuccess && status != errSecItemNotFound {
            throw failure(status, "delete")
        }
    }
}
