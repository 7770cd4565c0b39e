"""Sources: where raw responses come from (the Reddit API through praw)."""
