"""Security monitoring: rules that read the recorded activity, and the alerts they raise."""
