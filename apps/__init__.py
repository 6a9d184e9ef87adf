"""Apps that drive the gateway from outside: the demo and the device simulator."""
