"""What a person sees: console reports and plots."""
