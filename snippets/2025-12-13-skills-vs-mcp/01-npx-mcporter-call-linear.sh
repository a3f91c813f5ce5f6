npx mcporter call 'linear.create_comment(issueId: "ENG-123", body: "Looks good!")'
