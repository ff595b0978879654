"""Training data from review: annotations of user messages, and Rasa NLU data made of them.

An annotation (the right intent and entities of one user message, or "the
bot got it right") is kept in trackerweb's database beside the review data,
keyed like it by store and sender id; the bot's stored event changes only
when an editor applies it. Above `review`, below the API and the dashboard.
"""
