from datetime import timedelta

# Step types that send a message, and the channel each one counts against; a chain message
# step counts against its message's channel (email or SMS).
CAP_CHANNELS = {"email": "email", "sms": "sms", "call": "call"}


CAPPED_TYPES = [*CAP_CHANNELS, "chain_message"]


CAP_MODES = [("postpone", "Postpone to the next allowed moment"), ("skip", "Skip the step")]


CAP_POLICIES = [("company", "The company's caps"), ("custom", "Caps of this flow"), ("none", "No caps")]


DAY, WEEK = timedelta(days=1), timedelta(days=7)
