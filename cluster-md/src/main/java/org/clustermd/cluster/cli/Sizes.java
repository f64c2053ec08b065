package org.clustermd.cluster.cli;

import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Sizes on the command line, as mdadm reads them: a number of KiB, or a number with a K, M, G or
 * T suffix (powers of 1024). {@link Converter} turns one into bytes for picocli; a malformed
 * value is a usage error (exit 2) that quotes it.
 *
 * <p>Stateless and thread-safe.
 */
final class Sizes {
    private Sizes() {}

    /** Bytes in {@code text}; a bare number is KiB. */
    static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.isEmpty()) throw new IllegalArgumentException("empty size");
        int shift = switch (t.charAt(t.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> -1;
        };
        String digits = shift < 0 ? t : t.substring(0, t.length() - 1);
        if (shift < 0) shift = 10;
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException(
                    "'" + text + "' is not a size (a number of KiB, or with a K, M, G or T suffix)");
        }
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        if (n > (Long.MAX_VALUE >> shift)) throw new IllegalArgumentException("'" + text + "' is too large");
        return n << shift;
    }

    /** Human form of a byte count: the largest exact binary unit ("64 MiB", "4 KiB", "512 B"). */
    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        long v = bytes;
        while (v >= 1024 && v % 1024 == 0 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return v + " " + units[u];
    }

    /** picocli's converter: SIZE to bytes. */
    static final class Converter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
