await ctx.sleep(60 * 60 * 24 * 7); // sleep for 7 days
