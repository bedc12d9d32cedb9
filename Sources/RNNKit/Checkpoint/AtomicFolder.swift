import CPlatform
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a folder of files so that a reader (or a crash) sees either the old folder or the new
/// one, never a mix: the files go to a sibling temporary folder, each is flushed to disk, and the
/// temporary folder then takes the target's place in one atomic exchange.
enum AtomicFolder {
    static func write(_ files: [String: [UInt8]], to directory: String) throws(DataError) {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: directory).standardizedFileURL.path
        let parent = (target as NSString).deletingLastPathComponent
        let staging = target + ".tmp-\(getpid())"
        func fail(_ what: String) -> DataError {
            .unwritable(path: target, reason: "\(what): \(String(cString: strerror(errno)))",
                        hint: "Check the disk's free space and the folder's permissions; the previous checkpoint is untouched.")
        }
        do {
            try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
            removeLeftovers(of: target)
            if fm.fileExists(atPath: staging) { try fm.removeItem(atPath: staging) }
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw .unwritable(path: target, reason: "cannot create \(staging): \(error.localizedDescription)",
                              hint: "Choose an --out folder in a place you can write to.")
        }
        for (name, bytes) in files {
            let path = staging + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw fail("open \(path)") }
            let written = bytes.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { return false }
                    offset += n
                }
                return true
            }
            let synced = fsync(fd) == 0
            close(fd)
            guard written && synced else { throw fail("write \(path)") }
        }
        syncDirectory(staging)
        if fm.fileExists(atPath: target) {
            if rnnkit_exchange_paths(staging, target) != 0 {
                // File systems without an exchange: two renames, leaving the old folder beside the new
                // name for the instant between them.
                let old = target + ".old-\(getpid())"
                guard rename(target, old) == 0 else { throw fail("rename \(target)") }
                guard rename(staging, target) == 0 else { throw fail("rename \(staging)") }
                try? fm.removeItem(atPath: old)
            } else {
                try? fm.removeItem(atPath: staging)  // now the old folder
            }
        } else {
            guard rename(staging, target) == 0 else { throw fail("rename \(staging)") }
        }
        syncDirectory(parent)
    }

    /// Removes what an earlier writer killed part-way left beside `target`: its staging folder
    /// (`NAME.tmp-PID`) or the old folder it was about to delete (`NAME.old-PID`). The target itself
    /// is always whole, so these hold nothing a reader needs; except after the two-rename fallback
    /// was cut between its renames, when the old folder is all there is and goes back in place.
    private static func removeLeftovers(of target: String) {
        let fm = FileManager.default
        let parent = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        for entry in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] {
            for marker in [".tmp-", ".old-"] where entry.hasPrefix(name + marker) {
                let pid = entry.dropFirst(name.count + marker.count)
                guard !pid.isEmpty && pid.allSatisfy(\.isNumber) else { continue }
                if marker == ".old-" && !fm.fileExists(atPath: target) && rename(parent + "/" + entry, target) == 0 { continue }
                try? fm.removeItem(atPath: parent + "/" + entry)
            }
        }
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
