import CSV
import Foundation

/// The columns of a CSV file with a header row, read with yaslab/CSV.swift (RFC 4180: quoted
/// fields, doubled quotes, line breaks inside quotes, CRLF). Only the columns asked for are kept.
public struct CSVTable: Sendable {
    /// The header's column names, in file order.
    public var header: [String]
    /// The kept columns' fields by name, one per data row.
    public var columns: [String: [String]]
    /// Data rows (the header not counted).
    public var rowCount: Int

    /// Parses CSV bytes (UTF-8, an optional byte-order mark); `path` names the file in errors.
    /// - Parameter wanted: the columns to keep; nil keeps them all.
    /// - Throws: `DataError.malformed` for text that is not UTF-8, an empty file, a ragged row
    ///   (naming it) or a missing column (listing the header).
    public static func parse(_ bytes: [UInt8], path: String, columns wanted: [String]?) throws(DataError) -> CSVTable {
        func fail(_ problem: String, expected: String, found: String, hint: String = "Check the file in a spreadsheet.") -> DataError {
            .malformed(path: path, problem: problem, expected: expected, found: found, hint: hint)
        }
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard let text = String(validating: body, as: UTF8.self) else {
            throw fail("not UTF-8 text", expected: "a CSV text file in UTF-8", found: "other bytes", hint: "Save the file as UTF-8 CSV.")
        }
        guard !text.allSatisfy(\.isWhitespace) else {
            throw fail("empty file", expected: "a header row, then data rows", found: "no text")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true)
        } catch {
            throw fail("no header row", expected: "a first row naming the columns", found: "none")
        }
        let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
        var keep: [String] = []
        for name in wanted ?? header where !keep.contains(name) { keep.append(name) }
        var index: [Int] = []
        for name in keep {
            guard let k = header.firstIndex(of: name) else {
                throw fail("no column '\(name)'", expected: "a column named '\(name)'", found: "columns \(header.prefix(30).joined(separator: ", "))",
                           hint: "Name one of the header's columns (names are case-sensitive).")
            }
            guard header.lastIndex(of: name) == k else {
                throw fail("two columns named '\(name)'", expected: "unique column names", found: "'\(name)' twice",
                           hint: "Rename one of them in the header.")
            }
            index.append(k)
        }
        var columns = [[String]](repeating: [], count: keep.count)
        var rows = 0
        while let row = reader.next() {
            rows += 1
            if row.count == 1 && row[0].isEmpty { rows -= 1; continue }  // a blank line
            guard row.count == header.count else {
                throw fail("data row \(rows) has \(row.count) field(s)", expected: "\(header.count), as the header has",
                           found: "\(row.count): '\(row.joined(separator: ",").prefix(60))'",
                           hint: "Quote fields that hold commas, and give every row every column.")
            }
            for (c, k) in index.enumerated() { columns[c].append(row[k]) }
        }
        if reader.error != nil {
            throw fail("unreadable text after data row \(rows)", expected: "UTF-8 CSV", found: "a decoding error")
        }
        guard rows > 0 else { throw fail("no data rows", expected: "at least one row after the header", found: "only the header") }
        return CSVTable(header: header, columns: Dictionary(uniqueKeysWithValues: zip(keep, columns)), rowCount: rows)
    }

    /// Reads a CSV file, checking first that it fits in memory.
    public static func read(path: String, columns wanted: [String]?) throws(DataError) -> CSVTable {
        // The bytes, the text and a short string per kept field: several times the file.
        try parse(readFile(path, expansion: 8, hint: "Keep only the columns you need, or split the file."), path: path, columns: wanted)
    }

    /// Whether a field marks a missing value: empty, `NA`, `NaN`, `null` or `?` (pandas' defaults, and the `.ts` marker).
    public static func isMissing(_ field: String) -> Bool {
        let f = field.trimmingCharacters(in: .whitespaces)
        return f.isEmpty || ["na", "nan", "n/a", "null", "none", "?", "-nan"].contains(f.lowercased())
    }

    /// A column's numbers, missing values as NaN.
    /// - Throws: `DataError.malformed` naming the first row whose field is not a number.
    public func numbers(_ column: String, path: String) throws(DataError) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(rowCount)
        for (row, field) in (columns[column] ?? []).enumerated() {
            if CSVTable.isMissing(field) {
                out.append(.nan)
            } else if let v = Float(field.trimmingCharacters(in: .whitespaces)), v.isFinite {
                out.append(v)
            } else {
                throw .malformed(path: path, problem: "data row \(row + 1), column '\(column)' holds '\(field.prefix(20))'",
                                 expected: "a finite number (or empty for missing)", found: "'\(field.prefix(20))'",
                                 hint: "Fix the value, or leave '\(column)' out of the feature columns.")
            }
        }
        return out
    }
}
