package org.clustermd.raid1;

import java.util.Optional;

/**
 * One state change worth a notification (md's {@code sysfs_notify}; JMX's
 * AttributeChangeNotification): the attribute, in the JMX attribute names cluster-md publishes,
 * with its old and new value as md prints them.
 *
 * <p>Attributes: {@value #ARRAY_STATE}, {@value #SYNC_ACTION}, {@value #DEGRADED},
 * {@value #COMPONENT_SIZE} (KiB, as md's component_size) on the array,
 * {@value #DEVICE_STATE} on a device (then {@link #device()} names the leg).
 *
 * <p>Immutable; thread-safe.
 *
 * @param attribute the attribute name
 * @param oldValue the value before
 * @param newValue the value after
 * @param device the leg for device attributes
 */
public record AttributeChange(String attribute, String oldValue, String newValue, Optional<String> device) {
    public static final String ARRAY_STATE = "ArrayState";
    public static final String SYNC_ACTION = "SyncAction";
    public static final String DEGRADED = "Degraded";
    public static final String COMPONENT_SIZE = "ComponentSize";
    public static final String DEVICE_STATE = "State";

    static AttributeChange array(String attribute, Object oldValue, Object newValue) {
        return new AttributeChange(attribute, String.valueOf(oldValue), String.valueOf(newValue), Optional.empty());
    }

    static AttributeChange device(String leg, String oldValue, String newValue) {
        return new AttributeChange(DEVICE_STATE, oldValue, newValue, Optional.of(leg));
    }
}
